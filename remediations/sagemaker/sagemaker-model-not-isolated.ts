/**
 * sagemaker-model-not-isolated: a SageMaker AI model whose containers may make
 * network calls, where the `requireNetworkIsolation` setting says they must
 * not. Off by default: with the setting `false` (the default) every model is
 * compliant. `notify` by default.
 *
 * Triggers: `CreateModel`.
 * Violation (only with `requireNetworkIsolation: true`): `EnableNetworkIsolation`
 * absent or false. With isolation, "no inbound or outbound network calls can
 * be made to or from the model container" (API reference); SageMaker AI
 * still downloads the model artefacts and image itself.
 * Changes: nothing, in any mode. A model cannot be changed: the finding says
 * to create a new model with `EnableNetworkIsolation: true` and move the
 * endpoint configurations and transform jobs that use this one to it.
 * Never touches: the model, endpoints, endpoint configurations, transform jobs;
 * models whose `Tags` carry the exemption tag.
 * Permissions: none.
 */
import * as z from 'zod/mini';
import type { CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason } from '../../engine/exemption.js';
import type { Facts, RuleContext, Verdict } from '../../engine/types.js';
import { defineRule } from '../../rulekit/index.js';
import { isTrue, param, requestTags, responseArn, sagemakerArn, stringParam } from './common.js';

export const SagemakerModelNotIsolatedSettingsSchema = z.strictObject({
  /** Require `EnableNetworkIsolation` on every model. Off by default: many inference containers call AWS APIs or download packages at start. */
  requireNetworkIsolation: z._default(z.boolean(), false),
});
type SagemakerModelNotIsolatedSettings = z.infer<typeof SagemakerModelNotIsolatedSettingsSchema>;

function evaluate(event: CloudTrailEvent, _facts: Facts, context: RuleContext<SagemakerModelNotIsolatedSettings>): Verdict {
  const request = event.detail.requestParameters;
  const name = stringParam(request, 'ModelName');
  if (!name) return { kind: 'skipped', reason: 'the event names no model' };
  const resources = [responseArn(event, 'ModelArn') ?? sagemakerArn(event, 'model', name)];
  const isolated = isTrue(param(request, 'EnableNetworkIsolation'));

  if (isolated) return { kind: 'compliant', summary: `model ${name}: network isolation on`, resources };
  if (!context.settings.requireNetworkIsolation) {
    return { kind: 'compliant', summary: `model ${name}: network isolation off, and not required (requireNetworkIsolation is false)`, resources };
  }

  const omitted = param(request, 'EnableNetworkIsolation') === undefined;
  const subnets = param(request, 'VpcConfig', 'Subnets');
  const inVpc = Array.isArray(subnets) && subnets.length > 0;
  const findings = [
    {
      code: 'network-isolation-off',
      severity: 'medium' as const,
      message: `EnableNetworkIsolation is ${omitted ? 'omitted (not isolated)' : 'false'}: the model's containers can make network calls${inVpc ? ' wherever its VPC lets them' : ', the internet included (no VpcConfig)'}, and requireNetworkIsolation says they must make none. A model cannot be changed: create a new model with EnableNetworkIsolation true, then move the endpoint configurations and transform jobs that use ${name} to it.`,
      subject: 'EnableNetworkIsolation',
    },
  ];
  const exempt = exemptionReason(requestTags(request), context.config);
  if (exempt) return { kind: 'exempt', reason: `model ${name} is ${exempt}`, resources, findings };
  return { kind: 'violation', summary: `model ${name}: no network isolation`, resources, findings, plan: [] };
}

export const sagemakerModelNotIsolated = defineRule<SagemakerModelNotIsolatedSettings>({
  id: 'sagemaker-model-not-isolated',
  title: 'SageMaker model without network isolation',
  severity: 'medium',
  rationale:
    'An inference container runs third-party code next to the model and every request sent to it. Without network isolation it can call out, so a compromised or careless container can send data and predictions anywhere its network allows.',
  defaultMode: 'notify',
  triggers: [{ eventSource: 'sagemaker.amazonaws.com', eventNames: ['CreateModel'] }],
  settings: SagemakerModelNotIsolatedSettingsSchema,
  evaluate,
});
