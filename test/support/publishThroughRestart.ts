/** A broker the test started and can stop and start again. */
interface RestartableServer {
  stop(): Promise<void>;
  start(): Promise<void>;
}

const pause = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/**
 * Publishes every 50 ms while `server` stops, stays down for 3 s and starts again, and 20 times
 * after that; `publish` retries each message until the broker takes it, so many wait for it at
 * once. Resolves, once every publish was taken, with how many were started while it was down.
 */
export async function publishThroughRestart(
  server: RestartableServer,
  publish: () => Promise<void>,
): Promise<number> {
  let down = false;
  let restarted = false;
  let whileDown = 0;
  const publishing = (async () => {
    const publishes: Promise<void>[] = [];
    let afterRestart = 0;
    while (!restarted || afterRestart < 20) {
      whileDown += down ? 1 : 0;
      publishes.push(publish());
      afterRestart += restarted ? 1 : 0;
      await pause(50);
    }
    await Promise.all(publishes);
  })();
  await pause(500);
  await server.stop();
  down = true;
  await pause(3000);
  down = false;
  await server.start();
  restarted = true;
  await publishing;
  return whileDown;
}
