// The shape of placement.json, shared by the Node and browser checks.
import { readFileSync } from 'node:fs';
import type { RingSnapshot } from '@wsring/ring';

export interface PlacementVectors {
  description: string;
  version: 1;
  cases: {
    name: string;
    snapshot: RingSnapshot;
    fingerprint: string;
    lookups: { key: string; hash: number; owner: string }[];
    preferences: { key: string; n: number; owners: string[] }[];
  }[];
}

export const VECTORS_URL = new URL('./placement.json', import.meta.url);

export function readVectors(): PlacementVectors {
  return JSON.parse(readFileSync(VECTORS_URL, 'utf8')) as PlacementVectors;
}
