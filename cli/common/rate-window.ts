/**
 * Images/s and MB/s over the last `windowSeconds`, not since the start: a run's first seconds
 * (worker start-up, model load) would otherwise drag the rate down and the ETA up for minutes.
 * Until a full window has passed, the rate is over the time since the first images finished. `now` is injectable for tests.
 */
export class RateWindow {
  private samples: { at: number; images: number; bytes: number }[] = [];
  private images = 0;
  private bytes = 0;

  constructor(
    private readonly windowSeconds = 20,
    private readonly now: () => number = () => performance.now() / 1000,
  ) {}

  add(images: number, bytes: number): void {
    const at = this.now();
    // The first images are the zero point: they finished over a time nobody measured (start-up).
    this.images += images;
    this.bytes += bytes;
    this.samples.push({ at, images: this.images, bytes: this.bytes });
    // Keep one sample older than the window, as the window's start.
    while (this.samples.length > 2 && this.samples[1]!.at <= at - this.windowSeconds) this.samples.shift();
  }

  /** Per second over the window, up to now (a stall shows as a falling rate); undefined before anything finished. */
  rates(): { imagesPerSecond: number; mbPerSecond: number } | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.images === first.images) return undefined;
    const seconds = Math.max(this.now() - first.at, 1e-3);
    return { imagesPerSecond: (last.images - first.images) / seconds, mbPerSecond: (last.bytes - first.bytes) / 1e6 / seconds };
  }
}
