/**
 * `npm test`: runs every `test/*.test.ts` file with Node's test runner, each file in its own
 * process and against its own database. Uses the PostgreSQL of DATABASE_URL when it is set;
 * otherwise starts an embedded PostgreSQL for the run and stops it afterwards.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { withLocalPostgres } from '../examples/localPostgres';
import { runNodeScript } from '../examples/runNodeScript';

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const files = (only.length > 0 ? only : readdirSync(__dirname).filter(file => file.endsWith('.test.ts')))
    .map(file => (file.includes('/') ? file : join('test', file)))
    .sort();
  return withLocalPostgres(
    server => {
      console.log(server.embedded ? '# embedded PostgreSQL started' : '# using DATABASE_URL');
      return runNodeScript(['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
        ...process.env,
        DATABASE_URL: server.url,
      });
    },
    line => console.error(`[postgres] ${line}`),
  );
}

main().then(
  code => process.exit(code),
  error => {
    console.error(error);
    process.exit(1);
  },
);
