import { brokerContract } from './contract.ts';
import { createMemoryBroker } from './memory.ts';

brokerContract('memory', {
  create: ({ historySize }) => createMemoryBroker({ historySize }),
  historySlack: 0,
});
