// SPDX-License-Identifier: Apache-2.0
// The login page: the token for a session cookie (HttpOnly: this script never sees it).
'use strict';
document.getElementById('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = document.getElementById('login-error');
  err.textContent = '';
  try {
    const r = await fetch('/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: document.getElementById('token').value.trim() }),
    });
    if (r.ok) {
      location.replace('/');
      return;
    }
    const body = await r.json().catch(() => ({}));
    err.textContent = body.error || r.statusText;
  } catch (e) {
    err.textContent = 'capsuled does not answer: ' + e.message;
  }
});
