/**
 * A real DynamoDB implementation for tests: dynalite, in memory, on 127.0.0.1
 * and an ephemeral port. Tables are created with the stack table's key schema
 * (partition key `id`, string; on-demand) unless a test gives another (the
 * history table's). dynalite has no TTL API, so
 * `UpdateTimeToLive` (TTL attribute `expiration`) is tried and its absence tolerated.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand, type AttributeDefinition, type KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll } from 'vitest';

type DynaliteFactory = (options: { createTableMs: number; deleteTableMs: number; updateTableMs: number }) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

export const TEST_REGION = 'us-east-1';

export interface LocalDynamo {
  readonly endpoint: string;
  /** A client for assertions on the table's items. */
  readonly client: DynamoDBClient;
  /** Creates a table with the stack table's key schema, or `schema`, and returns its name. */
  createTable(name: string, schema?: TableSchema): Promise<string>;
  /**
   * Points the SDK's environment at dynalite (`AWS_ENDPOINT_URL_DYNAMODB`, dummy
   * credentials, region), as code under test builds its own clients. Returns the restore function.
   */
  useEnv(): () => void;
  close(): Promise<void>;
}

export interface TableSchema {
  readonly KeySchema: readonly KeySchemaElement[];
  readonly AttributeDefinitions: readonly AttributeDefinition[];
}

const STACK_TABLE: TableSchema = { KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }] };

export async function startDynalite(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ region: TEST_REGION, endpoint, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' } });
  return {
    endpoint,
    client,
    async createTable(name, schema = STACK_TABLE) {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [...schema.KeySchema],
          AttributeDefinitions: [...schema.AttributeDefinitions],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      try {
        await client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true } }));
      } catch (error) {
        if (!(error instanceof Error) || error.name !== 'UnknownOperationException') throw error;
      }
      return name;
    },
    useEnv() {
      const values: Record<string, string> = {
        AWS_ENDPOINT_URL_DYNAMODB: endpoint,
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'not-a-secret',
        AWS_REGION: TEST_REGION,
      };
      const saved = Object.fromEntries(Object.keys(values).map((key) => [key, process.env[key]]));
      Object.assign(process.env, values);
      return () => {
        for (const [key, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
        }
      };
    },
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * dynalite for the test file: started before its tests, closed after them.
 * With `env`, the SDK's environment points at it meanwhile (see `useEnv`),
 * for code under test that builds its own clients. Use the result inside
 * tests and hooks only: before `beforeAll` has run there is no server yet.
 */
export function useDynalite({ env = false } = {}): LocalDynamo {
  let started: LocalDynamo | undefined;
  let restoreEnv: (() => void) | undefined;
  beforeAll(async () => {
    started = await startDynalite();
    if (env) restoreEnv = started.useEnv();
  });
  afterAll(async () => {
    restoreEnv?.();
    await started?.close();
  });
  const current = (): LocalDynamo => {
    if (!started) throw new Error('dynalite is not started: use it inside a test or a hook');
    return started;
  };
  return {
    get endpoint() {
      return current().endpoint;
    },
    get client() {
      return current().client;
    },
    createTable: (name, schema) => current().createTable(name, schema),
    useEnv: () => current().useEnv(),
    close: () => current().close(),
  };
}
