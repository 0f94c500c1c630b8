// Twilio serves Assets with its own headers: no Content-Security-Policy frame-ancestors, no
// X-Frame-Options can be set on them, and a <meta> CSP cannot carry frame-ancestors. So a page that
// finds itself inside a frame (someone else's site laying it under their own buttons) empties
// itself and does not start.

/** True, after emptying the page, when it is framed; false when it is the top-level page. */
export function refuseFraming(): boolean {
  let alone: boolean;
  try {
    alone = window.top === window.self;
  } catch {
    alone = false; // a cross-origin parent cannot even be compared
  }
  if (alone) return false;
  document.body.replaceChildren(document.createTextNode('This page cannot be shown inside a frame.'));
  return true;
}
