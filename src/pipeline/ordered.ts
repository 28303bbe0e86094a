/**
 * Run `fn` over `items` with at most `window` calls in flight and yield the answers in input order.
 * The consumer's pace bounds the window: nothing new starts until an answer is taken (backpressure).
 */
export async function* mapOrdered<T, R>(items: readonly T[], window: number, fn: (item: T, index: number) => Promise<R>): AsyncGenerator<R> {
  const inFlight: Promise<R>[] = [];
  let next = 0;
  const fill = () => {
    while (next < items.length && inFlight.length < window) {
      const i = next++;
      inFlight.push(fn(items[i]!, i));
    }
  };
  fill();
  while (inFlight.length > 0) {
    const answer = await inFlight.shift()!;
    fill();
    yield answer;
  }
}
