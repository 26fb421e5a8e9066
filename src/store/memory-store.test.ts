import { storeSuite } from './testing/store-suite.js';
import { createMemoryStore } from './memory/memory-store.js';

storeSuite('memory', async () => {
  const store = createMemoryStore();
  await store.migrate();
  return { store, cleanup: () => store.close() };
});
