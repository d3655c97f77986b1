import { randomInt } from 'node:crypto';
import { Router } from 'zeromq';

/**
 * libzmq 4.3.5 aborts a ROUTER process (socket_base.cpp:2113) when a peer that sets no routing
 * id is given an auto id another peer already claimed. Auto ids count up from a value each new
 * ROUTER takes from the C library's unseeded rand(), so in a fresh process the first one is
 * the same (0x006b8b4567 if it is the first socket: every socket takes one rand() value) and a
 * squatter can claim it in advance.
 *
 * Honest agents always set their own id, so only an attacker holding an enrolled key can open
 * the id-less connection that triggers the abort. To make the counter unpredictable, this
 * creates and closes a random number of throwaway ROUTERs first; each one takes the next rand()
 * value. The attacker must then guess which of `spread` values comes next, at the price of two
 * handshakes per guess, which the handshake budget rations (see handshake-budget.ts).
 */
export async function scrambleAutoRoutingIds(spread = 8_192): Promise<number> {
  // At least 64, so whatever few sockets a process opens first, the id is never an early one.
  const throwaways = 64 + randomInt(spread);
  for (let index = 0; index < throwaways; index += 1) {
    // Closed sockets hold one of libzmq's 1023 slots until its reaper thread frees them; a
    // tight loop can outrun it (EMFILE), so pause now and then, and wait out a full table.
    if (index % 256 === 255) await pause(1);
    await openAndClose();
  }
  return throwaways;
}

async function openAndClose(): Promise<void> {
  for (let tries = 0; ; tries += 1) {
    try {
      new Router({ linger: 0 }).close();
      return;
    } catch (error) {
      if (tries >= 100 || (error as NodeJS.ErrnoException).code !== 'EMFILE') throw error;
      await pause(10);
    }
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
