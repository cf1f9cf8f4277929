// `npm run schema`: writes config.schema.json at the repository root from the
// built code (the script builds first). A test fails while the committed file
// differs from what this writes.
import { writeFileSync } from 'node:fs';
import { CONNECTORS } from '../dist/connectors/index.js';
import { configJsonSchemaText } from '../dist/src/config/json-schema.js';

const target = new URL('../config.schema.json', import.meta.url);
writeFileSync(target, configJsonSchemaText(CONNECTORS));
console.log(`written: ${target.pathname}`);
