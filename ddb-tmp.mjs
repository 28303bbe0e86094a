import { DuckDBInstance } from '@duckdb/node-api';
const db = await DuckDBInstance.create(':memory:', { memory_limit: '128MB', threads: '2', temp_directory: '/tmp/proto/spill' });
const c = await db.connect();
await c.run(`COPY (SELECT 'k' || i AS key, 'b' AS bucket, md5(i::varchar) AS etag FROM range(300000) t(i)) TO '/tmp/proto/kept' (FORMAT parquet, FILE_SIZE_BYTES '2MB', COMPRESSION zstd)`);
