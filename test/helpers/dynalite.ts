/**
 * A real DynamoDB implementation for tests: dynalite, in memory, on 127.0.0.1
 * and an ephemeral port. Tables are created with the deployment's key schema
 * (partition key `id`, string; on-demand). dynalite has no TTL API, so
 * `UpdateTimeToLive` (TTL attribute `expiration`) is tried and its absence tolerated.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';

type DynaliteFactory = (options: { createTableMs: number; deleteTableMs: number; updateTableMs: number }) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

export const TEST_REGION = 'us-east-1';

export interface LocalDynamo {
  readonly endpoint: string;
  /** A client for assertions on the table's items. */
  readonly client: DynamoDBClient;
  /** Creates a table with the deployment's key schema and returns its name. */
  createTable(name: string): Promise<string>;
  /**
   * Points the SDK's environment at dynalite (`AWS_ENDPOINT_URL_DYNAMODB`, dummy
   * credentials, region), as code under test builds its own clients. Returns the restore function.
   */
  useEnv(): () => void;
  close(): Promise<void>;
}

export async function startDynalite(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ region: TEST_REGION, endpoint, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' } });
  return {
    endpoint,
    client,
    async createTable(name) {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
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
