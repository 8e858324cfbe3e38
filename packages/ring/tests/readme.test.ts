import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as lib from '../src/mod.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const start = readme.indexOf('```js\n') + '```js\n'.length;
const example = readme.slice(start, readme.indexOf('```', start));

describe('README example', () => {
  it('runs, and its comments state what it returns', async () => {
    const AsyncFunction = (async () => {}).constructor as new (...args: string[]) => (l: typeof lib) => Promise<unknown>;
    const body = example.replace(/^import \{([^}]*)\} from '@wsring\/ring';$/m, 'const {$1} = lib;');
    expect(body).not.toContain('import ');
    await new AsyncFunction('lib', `${body}\nreturn { before, after, users, connected };`)(lib);

    const before = await lib.createRing([{ id: 'ws-1', meta: { url: 'wss://ws-1.example.com' } }, { id: 'ws-2' }, { id: 'ws-3', weight: 2 }]);
    const after = before.withNodes([{ id: 'ws-4' }]);
    const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
    expect(before.owner('alice')).toBe('ws-2');
    expect(before.owners('alice', 2)).toEqual(['ws-2', 'ws-3']);
    expect(before.diff(after)).toHaveLength(127);
    expect(before.diff(after)[0]).toEqual({ start: 0, end: 4339871, from: 'ws-3', to: 'ws-4' });
    expect(lib.movedKeys(before, after, users)).toEqual([
      { key: 'dave', from: 'ws-1', to: 'ws-4' },
      { key: 'erin', from: 'ws-2', to: 'ws-4' },
    ]);
    const index = await lib.createKeyIndex(users);
    expect(index.moved(before, after).map((m) => m.key).sort()).toEqual(['dave', 'erin']);
    for (const [claim, value] of [["'ws-2'", 'ws-2'], ['127 hash ranges', '127'], ["key: 'dave'", 'dave']]) {
      expect(example, value).toContain(claim);
    }
  });
});
