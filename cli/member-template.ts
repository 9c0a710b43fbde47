/**
 * `remediate member-template`: the member template for a StackSet, as JSON
 * CloudFormation on stdout, generated from the registry and the hub's config
 * (the same file, `--modes` and `approvals` as the hub's deploy), so each
 * member role holds exactly what the hub's role of its family holds. Needs no
 * credentials and makes no AWS call.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE, loadDeployConfig } from '../deploy/deployment.js';
import { memberTemplate } from '../deploy/member-template.js';
import { EXIT } from './exit-codes.js';
import { checkArgs, COMMAND_HELP, MEMBER_TEMPLATE_OPTIONS, UsageError, usageChecked } from './usage.js';
import type { Io } from './format.js';

const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const NAME = /^[A-Za-z0-9-]{1,40}$/;
/** An IAM role or user, exactly: a trust policy's principal, so no wildcard and no account root. */
const PRINCIPAL = /^arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)\/[\w+=,.@\/-]{1,512}$/;

export function memberTemplateCommand(args: string[], io: Io): Promise<number> {
  // Its own usage errors are answered here: this module is bundled apart from the CLI's entry.
  return usageChecked(io, async () => run(args, io));
}

function run(args: string[], io: Io): number {
  if (checkArgs('member-template', args, MEMBER_TEMPLATE_OPTIONS, { positionals: false }) === 'help') {
    io.out(COMMAND_HELP['member-template']);
    return EXIT.ok;
  }
  const { values } = parseArgs({ args, options: MEMBER_TEMPLATE_OPTIONS });
  const hubAccount = values['hub-account'] ?? '';
  if (!/^\d{12}$/.test(hubAccount)) throw new UsageError('--hub-account must be the hub account\'s 12-digit id', 'member-template');
  const hubRegions = (values['hub-regions'] ?? 'us-east-1').split(',').map((region) => region.trim());
  const badRegion = hubRegions.find((region) => !REGION.test(region));
  if (badRegion !== undefined) throw new UsageError(`--hub-regions: "${badRegion}" is not an AWS Region`, 'member-template');
  const service = values.service ?? 'remediation-bot';
  const stage = values.stage ?? 'dev';
  for (const [flag, value] of [['--service', service], ['--stage', stage]] as const) {
    if (!NAME.test(value)) throw new UsageError(`${flag} must be letters, digits and hyphens, as in the hub's deploy`, 'member-template');
  }
  const file = values.config ?? DEFAULT_CONFIG_FILE;
  if (values.config !== undefined && !existsSync(file)) throw new UsageError(`--config: ${file} does not exist`, 'member-template');
  const config = loadDeployConfig(file, { ...(values.modes !== undefined ? { modes: values.modes } : {}) });
  const undoPrincipals = values['undo-principals']?.split(',').map((arn) => arn.trim());
  const badPrincipal = undoPrincipals?.find((arn) => !PRINCIPAL.test(arn));
  if (badPrincipal !== undefined) throw new UsageError(`--undo-principals: "${badPrincipal}" is not the ARN of an IAM role or user (no wildcards)`, 'member-template');
  const template = memberTemplate({ hubAccount, hubRegions, service, stage, config, approvals: values.approvals === true, ...(undoPrincipals ? { undoPrincipals } : {}) });
  if (undoPrincipals && !Object.hasOwn(template['Resources'] as object, 'UndoRole')) {
    throw new UsageError('--undo-principals: with these modes the bot applies nothing in member accounts (every rule proposes, approvals off), so there is nothing to undo', 'member-template');
  }
  io.out(JSON.stringify(template, null, 2));
  return EXIT.ok;
}
