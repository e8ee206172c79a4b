/**
 * Performs the browser's part of a Kite login without a browser: follows kitekeeper's login
 * redirect to the (simulated) Kite form, posts the credentials, and follows Kite's redirect
 * back to the callback. Used by `kitekeeper demo --auto` and the end-to-end tests.
 *
 * @module
 */

/** How the callback answered. */
export interface LoginDriveResult {
  /** The callback's HTTP status (302 on success). */
  readonly status: number;
  /** The callback's Location header, if any. */
  readonly location: string | null;
  /** The callback's body text (empty on a redirect). */
  readonly body: string;
}

async function redirectOf(response: Response, what: string): Promise<string> {
  await response.body?.cancel();
  const location = response.headers.get("location");
  if (response.status !== 302 || location === null) {
    throw new Error(`Failed to log in: ${what} answered ${response.status}, not a redirect`);
  }
  return location;
}

/** Options of {@linkcode driveLogin}. */
export interface DriveLoginOptions {
  /**
   * Called just before the browser follows Kite's redirect to the callback: where a user who
   * has submitted Kite's form starts waiting for kitekeeper.
   */
  readonly beforeCallback?: () => void;
}

/**
 * Logs in through `daemonUrl`'s `/api/auth/login` with Kite credentials `userId`/`password`.
 * Rejects when a step before the callback does not redirect; the callback's own answer is
 * returned whatever it is.
 */
export async function driveLogin(
  daemonUrl: string,
  credentials: { userId: string; password: string },
  options: DriveLoginOptions = {},
): Promise<LoginDriveResult> {
  const start = await fetch(new URL("/api/auth/login", daemonUrl), { redirect: "manual" });
  const kiteLogin = new URL(await redirectOf(start, "/api/auth/login"), daemonUrl);
  const form = new URLSearchParams({
    api_key: kiteLogin.searchParams.get("api_key") ?? "",
    user_id: credentials.userId,
    password: credentials.password,
    redirect_params: kiteLogin.searchParams.get("redirect_params") ?? "",
  });
  const posted = await fetch(new URL(kiteLogin.pathname, kiteLogin), {
    method: "POST",
    body: form,
    redirect: "manual",
  });
  const callback = await redirectOf(posted, "Kite's login form");
  options.beforeCallback?.();
  const answer = await fetch(callback, { redirect: "manual" });
  return {
    status: answer.status,
    location: answer.headers.get("location"),
    body: await answer.text(),
  };
}
