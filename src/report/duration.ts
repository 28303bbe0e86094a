/** h:mm:ss, always (an ETA on a bar keeps its width). */
export function clock(seconds: number): string {
  const t = Math.max(0, Math.round(seconds));
  return `${Math.floor(t / 3600)}:${String(Math.floor(t / 60) % 60).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
}

/** A duration as people read it, everywhere the same: h:mm:ss. */
export const hms = clock;
