/**
 * zeromq.js allows one pending send per socket (a second rejects with EBUSY): sends are chained
 * so any number of callers can send. A failed send resolves false; it never blocks the chain.
 */
export function createSendQueue<A extends unknown[]>(send: (...args: A) => Promise<void>): (...args: A) => Promise<boolean> {
  let tail: Promise<unknown> = Promise.resolve();
  return (...args) => {
    const result = tail.then(() => send(...args)).then(
      () => true,
      () => false,
    );
    tail = result;
    return result;
  };
}
