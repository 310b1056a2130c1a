import { modelProviderConformance } from '../../conformance/model-provider.case.ts';
import { bedrockHarness } from '../../fakes/provider-harnesses.ts';

modelProviderConformance('BedrockProvider', bedrockHarness);
