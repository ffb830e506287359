import { brokerContract } from './contract.ts';
import { createMemoryBroker } from './memory.ts';

brokerContract('memory', { create: ({ retention }) => createMemoryBroker({ retention }) });
