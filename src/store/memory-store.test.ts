import { storeSuite } from './testing/store-suite.js';
import { claimsSuite } from './testing/store-suite-claims.js';
import { createMemoryStore } from './memory/memory-store.js';

const makeMemory = async () => {
  const store = createMemoryStore();
  await store.migrate();
  return { store, cleanup: () => store.close() };
};
storeSuite('memory', makeMemory);
claimsSuite('memory', makeMemory);
