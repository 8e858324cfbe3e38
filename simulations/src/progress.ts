// Progress bars on stderr, only for people watching (a TTY) or when asked; silent otherwise.
import cliProgress from 'cli-progress';

export interface Progress {
  start(label: string, total: number): void;
  update(done: number): void;
  stop(): void;
}

export const silentProgress: Progress = { start() {}, update() {}, stop() {} };

export function terminalProgress(): Progress {
  let bar: cliProgress.SingleBar | undefined;
  return {
    start(label, total) {
      bar?.stop();
      bar = new cliProgress.SingleBar(
        { stream: process.stderr, format: `${label.padEnd(14)} {bar} {percentage}% | {value}/{total} | {duration_formatted}`, hideCursor: true, clearOnComplete: true, fps: 5, noTTYOutput: true, notTTYSchedule: 1000 },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0);
    },
    update(done) {
      bar?.update(done);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
