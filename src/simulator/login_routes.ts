/**
 * kite.zerodha.com's login, simulated: `GET /connect/login` shows a form, `POST` checks the
 * user id and password and redirects to the app's redirect URL with a request token, and
 * the decoded `redirect_params` appended, as Kite does.
 *
 * @module
 */
import { Hono } from "hono";
import { html } from "hono/html";
import type { SessionStore } from "./session_store.ts";

/** What the login routes need. */
export interface LoginDeps {
  readonly apiKey: string;
  readonly userId: string;
  readonly password: string;
  readonly redirectUrl: string;
  readonly sessions: SessionStore;
}

interface FormFields {
  readonly apiKey: string;
  readonly redirectParams: string;
  readonly userId: string;
  readonly error: string;
}

function loginPage(fields: FormFields) {
  // hono/html escapes every interpolated value.
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <title>Login – Kite (simulated)</title>
      </head>
      <body>
    <h1>Login to Kite</h1>
    ${fields.error === "" ? "" : html`<p class="error" role="alert">${fields.error}</p>`}
    <form method="post" action="/connect/login">
    <input type="hidden" name="api_key" value="${fields.apiKey}">
    <input type="hidden" name="redirect_params" value="${fields.redirectParams}">
    <label>User ID <input name="user_id" value="${fields.userId}" autocomplete="username"></label>
    <label>Password <input type="password" name="password" autocomplete="current-password"></label>
    <button type="submit">Login</button>
    </form>
      </body>
    </html>
  `;
}

function unknownAppPage() {
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <title>Invalid api_key</title>
      </head>
      <body>
        <h1>Invalid <code>api_key</code></h1>
        <p>No app has this API key.</p>
      </body>
    </html>
  `;
}

/** Where the browser goes after a good login: the redirect URL plus Kite's parameters. */
function redirectTarget(redirectUrl: string, requestToken: string, redirectParams: string) {
  const url = new URL(redirectUrl);
  url.searchParams.append("action", "login");
  url.searchParams.append("type", "login");
  url.searchParams.append("status", "success");
  url.searchParams.append("request_token", requestToken);
  for (const [name, value] of new URLSearchParams(redirectParams)) {
    url.searchParams.append(name, value);
  }
  return url.href;
}

function field(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === "string" ? value : "";
}

/** The `/connect/login` routes. */
export function loginRoutes(deps: LoginDeps): Hono {
  const app = new Hono();
  app.get("/connect/login", (c) => {
    const apiKey = c.req.query("api_key") ?? "";
    if (apiKey !== deps.apiKey) return c.html(unknownAppPage(), 400);
    const redirectParams = c.req.query("redirect_params") ?? "";
    return c.html(loginPage({ apiKey, redirectParams, userId: "", error: "" }));
  });
  app.post("/connect/login", async (c) => {
    const form = await c.req.formData().catch(() => new FormData());
    const apiKey = field(form, "api_key");
    if (apiKey !== deps.apiKey) return c.html(unknownAppPage(), 400);
    const redirectParams = field(form, "redirect_params");
    const userId = field(form, "user_id");
    if (userId !== deps.userId || field(form, "password") !== deps.password) {
      const error = "Invalid `user_id` or `password`.";
      return c.html(loginPage({ apiKey, redirectParams, userId, error }));
    }
    const requestToken = deps.sessions.issueRequestToken();
    return c.redirect(redirectTarget(deps.redirectUrl, requestToken, redirectParams), 302);
  });
  return app;
}
