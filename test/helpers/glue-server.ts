import http from 'node:http';

/**
 * AWS Glue's GetTable and UpdateTable over real HTTP on loopback (JSON 1.1, as the SDK sends
 * them): one table, whose location the test reads back, and every UpdateTable kept.
 */
export interface GlueServer {
  endpoint: string;
  location: string;
  updates: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startGlueServer(database: string, table: string, location: string): Promise<GlueServer> {
  const state: GlueServer = { endpoint: '', location, updates: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const input = JSON.parse(body || '{}') as Record<string, unknown>;
      const target = String(req.headers['x-amz-target'] ?? '');
      const answer = (status: number, out: unknown) => res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(out));
      if (target === 'AWSGlue.GetTable' && input.DatabaseName === database && input.Name === table) {
        return answer(200, { Table: { Name: table, DatabaseName: database, TableType: 'EXTERNAL_TABLE', Parameters: { classification: 'parquet' }, StorageDescriptor: { Location: state.location, Columns: [{ Name: 'key', Type: 'string' }] } } });
      }
      if (target === 'AWSGlue.UpdateTable' && input.DatabaseName === database) {
        const t = input.TableInput as { Name: string; StorageDescriptor: { Location: string } };
        if (t.Name !== table) return answer(400, { __type: 'EntityNotFoundException', Message: `no table ${t.Name}` });
        state.updates.push(input);
        state.location = t.StorageDescriptor.Location;
        return answer(200, {});
      }
      answer(400, { __type: 'EntityNotFoundException', Message: `not here: ${target}` });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  state.close = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}
