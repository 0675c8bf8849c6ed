// Runs the StateStore contract against the in-memory store.

import { MemoryStore } from '../../src/state/memory.js';
import { runStoreContract } from './contract.js';

runStoreContract('memory', async (rateLimit) => new MemoryStore({ rateLimit }));
