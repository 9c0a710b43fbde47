/**
 * An AWS gateway that records every call and answers each with an empty
 * output: the fastest way to run the real engine thousands of times and see
 * exactly which AWS calls it would make.
 */
import type { AwsGateway } from '../../engine/aws.js';
import type { Rule, Service } from '../../engine/types.js';

export interface RecordedCall {
  readonly service: Service;
  readonly operation: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly kind: 'call' | 'wait';
}

export interface RecordingGateway extends AwsGateway {
  readonly calls: RecordedCall[];
  reset(): void;
}

export function recordingGateway(respond: (call: RecordedCall) => unknown = () => ({})): RecordingGateway {
  const calls: RecordedCall[] = [];
  return {
    calls,
    reset: () => void calls.splice(0, calls.length),
    async call(service, operation, input) {
      const call = { service, operation, input, kind: 'call' } as const;
      calls.push(call);
      return respond(call);
    },
    async wait(service, operation, input) {
      const call = { service, operation, input, kind: 'wait' } as const;
      calls.push(call);
      return respond(call);
    },
  };
}

/** The calls that can change something: neither a rule's read-only lookup or probe, nor a wait, nor the alert. */
export function writeCalls(calls: readonly RecordedCall[], rules: readonly Rule[]): RecordedCall[] {
  const lookups = new Set(
    rules.flatMap((rule) => [...(rule.lookups ?? []), ...(rule.probes ?? [])].map((read) => `${read.service}:${read.operation}`)),
  );
  return calls.filter((call) => call.kind === 'call' && call.service !== 'sns' && !lookups.has(`${call.service}:${call.operation}`));
}
