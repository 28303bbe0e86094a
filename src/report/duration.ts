/** A duration as people read it: h:mm:ss (tenths under a minute). */
export function hms(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const t = Math.round(seconds);
  return `${Math.floor(t / 3600)}:${String(Math.floor(t / 60) % 60).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
}
