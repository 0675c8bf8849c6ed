// Benchmark subject: the full metagate (JWT + claims + policy + store + field filter + audit + metrics) from a config file.

import { loadConfigFile } from '../../src/config/load.js';
import { startGateway } from '../../src/server.js';
import { createLogger } from '../../src/observability/logger.js';

const rt = loadConfigFile(process.argv[2]!);
const g = await startGateway(rt, { logger: createLogger('silent'), signals: true });
process.stdout.write(`READY ${new URL(g.vendorUrl).port}\n`);
