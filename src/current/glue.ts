import { GetTableCommand, GlueClient, UpdateTableCommand, type TableInput } from '@aws-sdk/client-glue';
import { UserError } from '../errors.js';
import { awsClientConfig } from '../storage/s3-config.js';

/** "database.table", as the Terraform output athena_current_table gives it. */
export function parseGlueTable(name: string): { database: string; table: string } {
  const m = /^([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)$/.exec(name);
  if (!m) throw new UserError(`--glue-table must be database.table (terraform output athena_current_table), not ${name}`);
  return { database: m[1]!, table: m[2]! };
}

/**
 * Point the Glue (Athena) table at a new version of the current table, in one call: a query
 * planned before reads the old version (kept until the next one), one planned after the new.
 * UpdateTable replaces the whole definition, so it is read first and only the location changes.
 */
export async function moveGlueTable(name: string, location: string): Promise<void> {
  const { database, table } = parseGlueTable(name);
  const glue = new GlueClient(awsClientConfig());
  const got = (await glue.send(new GetTableCommand({ DatabaseName: database, Name: table }))).Table;
  if (!got?.StorageDescriptor) throw new UserError(`Glue table ${name} has no storage descriptor: is it the current table Terraform made?`);
  // Already there (a compaction run again): no UpdateTable, which Glue would keep as another table version.
  if (got.StorageDescriptor.Location === location) return;
  const input: TableInput = {
    Name: got.Name,
    Description: got.Description,
    Owner: got.Owner,
    Retention: got.Retention,
    StorageDescriptor: { ...got.StorageDescriptor, Location: location },
    PartitionKeys: got.PartitionKeys,
    TableType: got.TableType,
    Parameters: got.Parameters,
  };
  await glue.send(new UpdateTableCommand({ DatabaseName: database, TableInput: input }));
}
