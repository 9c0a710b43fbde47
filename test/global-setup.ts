/**
 * Packages the service once, offline and without credentials, so template
 * tests read the real `.serverless/cloudformation-template-update-stack.json`,
 * and bundles the CLI so CLI tests run the real binary.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  // SKIP_BUILD=1 reuses the last CLI bundle while iterating on tests that do not run the CLI.
  if (process.env['SKIP_BUILD'] !== '1') execFileSync('node', ['scripts/build-cli.mjs'], { cwd: root, stdio: 'inherit' });
  // Local iteration on pure tests can skip packaging; CI and `npm test` always package.
  if (process.env['SKIP_PACKAGE'] === '1') return;
  const env = { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
  const serverless = join(root, 'node_modules', '.bin', 'serverless');
  // A second region proves that global-service families (IAM) are deployed only in us-east-1.
  // It goes first: every `package` run empties .serverless/, whatever --package says.
  // It also carries the Slack and email parameters, with per-channel thresholds, for the notification checks.
  const notifications = [
    '--param=slackWebhookSecret=arn:aws:secretsmanager:eu-west-1:111122223333:secret:remediation-bot/slack-webhook-AbCdEf',
    '--param=alertEmail=secops@example.com',
    '--param=configFile=test/fixtures/notification-thresholds.config.yml',
  ];
  execFileSync(serverless, ['package', '--region', 'eu-west-1', '--package', '.serverless-eu-west-1', ...notifications], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync(serverless, ['package'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env });
}
