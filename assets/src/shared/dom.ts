// DOM helpers shared by the softphone and the operator console.

/** The element with this id, typed as the page's own markup declares it. */
export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
