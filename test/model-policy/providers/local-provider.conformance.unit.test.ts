import { modelProviderConformance } from '../../conformance/model-provider.case.ts';
import { localProviderHarness } from '../../fakes/provider-harnesses.ts';

modelProviderConformance('LocalModelProvider', localProviderHarness);
