/**
 * Runs one SQL query in DuckDB (npm `@duckdb/node-api`, native) and prints its rows as JSON:
 * an independent reader for what `kitekeeper export` writes. A child process of its own,
 * since loading DuckDB's native library needs `--allow-ffi`, which the tests do not have.
 *
 * Usage: `deno run --allow-read --allow-env --allow-ffi --allow-sys duckdb_query.ts SQL`
 *
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";

if (import.meta.main) {
  const [sql] = Deno.args;
  if (sql === undefined) throw new TypeError("Usage: duckdb_query.ts SQL");
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  const reader = await connection.runAndReadAll(sql);
  console.log(JSON.stringify({ columns: reader.columnNames(), rows: reader.getRowsJson() }));
  connection.closeSync();
}
