// The fleet's read-only requests over NATS: every agent answers its own status and previews of a change.
// Subjects carry the membership bucket, so fleets sharing a NATS server stay apart.

/** Version of the request and answer bodies below; an agent answers a request of another version with an error. */
export const FLEET_PROTOCOL = 1;

/** `wsring.fleet.<bucket>.status`: request `{ v }`, every agent answers its `NodeStatus`. */
export const statusSubject = (bucket: string): string => `wsring.fleet.${bucket}.status`;

/** `wsring.fleet.<bucket>.preview`: request a `PreviewRequest`, every agent answers its `PreviewAnswer`. */
export const previewSubject = (bucket: string): string => `wsring.fleet.${bucket}.preview`;

/** Defaults of the fleet requests. */
export const FLEET_DEFAULTS = {
  /** How long a preview waits for every member's answer. */
  previewDeadlineMs: 2_000,
  /** How long one status round waits for the members' answers (the page refreshes every second). */
  statusDeadlineMs: 700,
  /** The page's refresh period. */
  refreshMs: 1_000,
  /** User ids one agent lists in a preview answer when they are asked for; the counts stay exact beyond it. */
  maxUsers: 10_000,
} as const;
