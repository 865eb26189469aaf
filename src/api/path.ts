/** Field paths inside an object, as segments and as the string users read (`spec.http[0].route[1].weight`). */

export type PathSegment = string | number;
export type FieldPath = readonly PathSegment[];

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `["spec","http",0,"match",0,"headers","x-user"]` → `spec.http[0].match[0].headers.x-user`; odd keys are quoted. */
export function formatPath(path: FieldPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
