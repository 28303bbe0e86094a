/**
 * The clock a part is timed by: wall seconds, or with BENCH_CLOCK=cpu the process's CPU seconds
 * (every thread: decode, inference, V8's), which a busy shared machine disturbs far less.
 */
export const benchClock: () => number =
  process.env.BENCH_CLOCK === 'cpu'
    ? () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1e6;
      }
    : () => performance.now() / 1000;
