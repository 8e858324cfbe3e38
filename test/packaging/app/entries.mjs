// Imports every entry point of every installed package (what a user's `import` resolves to under Node) and
// prints each one's export names, so a missing file, a missing dependency or a wrong condition fails here.
const ENTRIES = [
  '@wsring/ring',
  '@wsring/protocol',
  '@wsring/client',
  '@wsring/client/internal',
  '@wsring/node-agent',
  '@wsring/node-agent/internal',
  '@wsring/node-agent/testing',
  '@wsring/sim',
];
const out = {};
for (const entry of ENTRIES) out[entry] = Object.keys(await import(entry)).sort();
console.log(JSON.stringify(out));
