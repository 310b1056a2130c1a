import { App } from 'aws-cdk-lib';
import { bundleFunctions } from './build/bundle-functions.ts';
import { addNodeStack, bundlesDirOf } from './node-app.ts';

// The CDK app (`cdk.json`): bundle the functions, then synthesize the node stack from them.
const app = new App();
await bundleFunctions({ outDir: bundlesDirOf(app) });
addNodeStack(app);
app.synth();
