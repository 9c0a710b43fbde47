/**
 * Checks on the template that `npx serverless package` produced offline (the
 * vitest global setup runs it): the deployed patterns are the registry's, and
 * they match every fixture of their rules.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { familyKey, familyPattern } from '../deploy/deployment.js';
import { ruleMatches } from '../engine/decide.js';
import { compilePattern, type EventPattern } from '../engine/pattern-match.js';
import { rulesByFamily, type DeployedFamily } from '../remediations/registry.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

const template = JSON.parse(readFileSync(join(import.meta.dirname, '..', '.serverless', 'cloudformation-template-update-stack.json'), 'utf8')) as {
  Resources: Record<string, Resource>;
};
const resources = Object.entries(template.Resources);

function functionLogicalId(family: DeployedFamily): string {
  const key = familyKey(family);
  return `${key[0]?.toUpperCase()}${key.slice(1)}LambdaFunction`;
}

function eventRulesTargeting(logicalId: string): Resource[] {
  return resources
    .filter(([, r]) => r.Type === 'AWS::Events::Rule')
    .map(([, r]) => r)
    .filter((r) => JSON.stringify(r.Properties['Targets']).includes(`"${logicalId}"`));
}

describe('packaged CloudFormation template', () => {
  describe.each(Object.keys(rulesByFamily) as DeployedFamily[])('family %s', (family) => {
    const rules = eventRulesTargeting(functionLogicalId(family));

    it('deploys exactly the EventBridge pattern the registry derives', () => {
      expect(rules).toHaveLength(1);
      expect(rules[0]?.Properties['EventPattern']).toStrictEqual(JSON.parse(JSON.stringify(familyPattern(family))));
    });

    it('matches with the deployed pattern every fixture its rules match', () => {
      const deployed = compilePattern(rules[0]?.Properties['EventPattern'] as EventPattern);
      for (const name of allFixtureNames()) {
        const event = loadEvent(name);
        const expected = rulesByFamily[family].some((rule) => ruleMatches(rule, event));
        expect(deployed(event), name).toBe(expected);
      }
    });
  });
});
