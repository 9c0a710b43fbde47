/**
 * The email an on-call person reads: the SNS `email` body of each outcome is
 * compared with a plain-text file in `test/expected/email/`, readable in the
 * repo. `UPDATE_EXPECTED=1` rewrites the files; review the diff before committing.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../notify/alert.js';
import { renderSubject, renderText } from '../notify/alert.js';
import { buildPublishInput } from '../notify/sns.js';
import { appliedAlert, exemptAlert, failedPartWayAlert, proposedAlert } from './helpers/notify-samples.js';

const EXPECTED_DIR = join(import.meta.dirname, 'expected', 'email');
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-dev-alerts';

function expectMatchesFile(actual: string, name: string): void {
  const path = join(EXPECTED_DIR, name);
  if (process.env['UPDATE_EXPECTED'] === '1') {
    mkdirSync(EXPECTED_DIR, { recursive: true });
    writeFileSync(path, actual);
  }
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

const samples: readonly (readonly [string, () => Promise<Alert>])[] = [
  ['applied', appliedAlert],
  ['proposed', proposedAlert],
  ['failed-part-way', failedPartWayAlert],
  ['exempt', exemptAlert],
];

describe('email alert', () => {
  describe.each(samples)('%s', (name, sample) => {
    it('matches the expected plain text', async () => {
      // Arrange
      const alert = await sample();
      // Act
      const text = renderText(alert);
      // Assert
      expectMatchesFile(text, `${name}.txt`);
    });

    it('is what SNS sends to email subscribers, with the subject in the Subject field', async () => {
      const alert = await sample();
      const input = buildPublishInput(alert, TOPIC);
      const bodies = JSON.parse(input['Message'] as string) as Record<string, string>;
      expect(bodies['email']).toBe(renderText(alert));
      expect(bodies['default']).toBe(renderText(alert));
      expect(input['Subject']).toBe(renderSubject(alert));
    });

    it('has a one-line ASCII subject of at most 100 characters starting with severity and outcome', async () => {
      const alert = await sample();
      const subject = renderSubject(alert);
      expect(subject.length).toBeLessThanOrEqual(100);
      expect(subject).toMatch(/^\[HIGH\] (APPLIED, VERIFIED|PROPOSED|FAILED|EXEMPT): /);
      expect(subject).toMatch(/^[\x20-\x7e]+$/);
    });
  });

  it('offers to undo only the applied step of a plan that failed part-way', async () => {
    const text = renderText(await failedPartWayAlert());
    const undo = text.slice(text.indexOf('HOW TO UNDO'), text.indexOf('LINKS'));
    expect(undo.match(/^aws ec2 authorize-security-group-ingress /gm)).toHaveLength(1);
    expect(undo).toContain('"IpRanges":[{"CidrIp":"0.0.0.0/0"');
    expect(undo).not.toContain('::/0');
  });

  it('cuts a long subject to 100 characters with a visible ellipsis', async () => {
    const alert = await appliedAlert();
    const long: Alert = { ...alert, decision: { ...alert.decision, ruleTitle: 'A very long rule title '.repeat(8) } };
    const subject = renderSubject(long);
    expect(subject).toHaveLength(100);
    expect(subject.endsWith('...')).toBe(true);
  });
});
