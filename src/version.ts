/*!
 * The package's version, read once from package.json (for the report's `tool.version` and --version).
 */
import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
