// Runs cdk-nag's AwsSolutions pack on synthesized templates. cdk-nag checks a construct tree; each template is
// included into a CDK stack (cloudformation-include), which gives it the L1 tree it checks. The Go stack records
// its accepted findings in each resource's `cdk_nag` metadata, in the format cdk-nag itself writes
// (writeSuppressionsToCloudFormation: {rules_to_suppress: [{id, reason}]}, id "Rule" or "Rule[finding]"); they are
// acknowledged here with Validations.of(resource).acknowledge, as cdk-nag 3 expects. The Go module of cdk-nag is
// not served by the module proxy; this is the npm package of the same rules.
//
//   NODE_PATH=<dir>/node_modules node cdk/nag/check.js TEMPLATE.json...
//
// Prints one line per unsuppressed finding and a summary; exits 1 if any finding (error or warning) is left.
'use strict';
const path = require('path');
const cdk = require('aws-cdk-lib');
const cfninc = require('aws-cdk-lib/cloudformation-include');
const nag = require('cdk-nag');

const templates = process.argv.slice(2);
if (templates.length === 0) {
  console.error('usage: node check.js TEMPLATE.json...');
  process.exit(2);
}
let left = 0;
let acknowledged = 0;
for (const file of templates) {
  const app = new cdk.App();
  const stack = new cdk.Stack(app, 'Checked');
  const included = new cfninc.CfnInclude(stack, 'Template', { templateFile: file });
  const logicalIds = Object.keys(require(path.resolve(file)).Resources || {});
  for (const id of logicalIds) {
    const res = included.getResource(id);
    const meta = res.cfnOptions.metadata && res.cfnOptions.metadata.cdk_nag;
    for (const rule of (meta && meta.rules_to_suppress) || []) {
      if (!rule.reason || rule.reason.length < 10) {
        console.log(`${file}: ${id}: suppression of ${rule.id} has no written reason`);
        left++;
        continue;
      }
      cdk.Validations.of(res).acknowledge({ id: rule.id, reason: rule.reason });
      acknowledged++;
    }
  }
  const pack = new nag.AwsSolutionsChecks(app, { verbose: false });
  const report = pack.validateScope(app);
  for (const v of report.violations) {
    for (const r of v.violatingResources) {
      left++;
      console.log(`${path.basename(file)}: ${v.severity}: ${v.ruleName}: ${r.constructPath.replace(/^Checked\/Template\//, '')}: ${v.description}`);
    }
  }
}
console.log(`cdk-nag AwsSolutions: ${templates.length} templates, ${left} findings left, ${acknowledged} acknowledged with a reason`);
process.exit(left > 0 ? 1 : 0);
