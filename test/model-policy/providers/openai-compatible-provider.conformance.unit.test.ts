import { modelProviderConformance } from '../../conformance/model-provider.case.ts';
import { openAiCompatibleHarness } from '../../fakes/provider-harnesses.ts';

modelProviderConformance('OpenAiCompatibleProvider', openAiCompatibleHarness);
