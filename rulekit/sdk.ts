/**
 * What the rule kit knows of the AWS SDK v3: a service binds a client class to
 * the name the engine's gateway uses (`ec2`, `iam`, …), and a command class
 * names its own operation. From a command class alone the kit reads the
 * operation and its service, so that a rule names each call once, by its
 * command: the IAM action, the gateway's command table and the plan step's
 * `service`/`operation` all come from it, and the step's input is checked
 * against the command's `*CommandInput` type at compile time.
 */
import type { SdkClientConstructor, SdkCommandConstructor } from '../engine/aws.js';
import type { Service } from '../engine/types.js';

/** An AWS service as the gateway calls it: its name and the SDK client class that sends its commands. */
export interface AwsService<S extends Service = Service> {
  readonly name: S;
  readonly Client: SdkClientConstructor;
}

export function awsService<S extends Service>(name: S, Client: SdkClientConstructor): AwsService<S> {
  return { name, Client };
}

/**
 * An SDK v3 command class: `new RevokeSecurityGroupIngressCommand(input)`.
 * Its argument is typed `never` so that every command class fits, whatever
 * its input requires (constructor arguments are contravariant); the input a
 * step, lookup or probe passes is checked against `InputOf<C>` instead.
 */
export type CommandClass = abstract new (...args: never[]) => object;

/**
 * The input type a command class takes. SDK v3 command classes declare two
 * constructors, `(input)` and `(...[input]: [] | [input])`; inference reads
 * the last, so the input is its first argument without `undefined`.
 */
export type InputOf<C> = C extends abstract new (...args: infer A) => unknown ? Exclude<A[0], undefined> : never;

/**
 * The operation a command sends, read from the command itself (its Smithy
 * operation schema: `[9, "com.amazonaws.ec2", "RevokeSecurityGroupIngress", …]`),
 * so it survives minification, which renames classes.
 */
export function operationOf(Command: CommandClass, service: AwsService): string {
  const schema = new (Command as unknown as new (input: object) => { schema?: unknown })({}).schema;
  const [, namespace, operation] = Array.isArray(schema) ? (schema as unknown[]) : [];
  if (typeof operation !== 'string' || typeof namespace !== 'string') {
    throw new Error(`the command class given for ${service.name} carries no operation schema: is it an SDK v3 command?`);
  }
  if (namespace !== `com.amazonaws.${service.name}`) {
    throw new Error(`${operation} belongs to ${namespace}, not to the ${service.name} service it is declared for`);
  }
  return operation;
}

/** A command the kit has bound to its service and operation: what a family's command table is built from. */
export interface BoundCommand {
  readonly service: AwsService;
  readonly operation: string;
  readonly Command: SdkCommandConstructor;
}

export function bindCommand(service: AwsService, Command: CommandClass): BoundCommand {
  return { service, operation: operationOf(Command, service), Command: Command as unknown as SdkCommandConstructor };
}
