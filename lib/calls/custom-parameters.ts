// The caller's custom parameters (`device.connect({params})`), which Twilio posts to /voice beside its
// own, picked out to reach the called client as <Parameter> nouns. Only the app's own names are
// candidates (a lower-case first letter: Twilio's are PascalCase); a candidate over the bounds is
// dropped, never the call, and reported so /voice can log it.
import { customParameterProblem, MAX_CUSTOM_PARAMETERS } from '../shared/limits';

export interface CustomParameter {
  name: string;
  value: string;
}

export interface CustomParameters {
  passed: CustomParameter[];
  /** The names left out, each with why (names cut to 64 characters: they come from the caller). */
  dropped: { name: string; why: string }[];
}

/** Whether a request parameter's name is one an app may have chosen (not Twilio's, not the runtime's). */
export function isAppParameterName(name: string): boolean {
  return /^[a-z]/.test(name);
}

/** The custom parameters of a voice request, in the order they came, bounded (limits.ts). */
export function customParametersOf(event: Record<string, unknown>): CustomParameters {
  const passed: CustomParameter[] = [];
  const dropped: { name: string; why: string }[] = [];
  for (const [name, value] of Object.entries(event)) {
    if (!isAppParameterName(name) || name === 'request') continue;
    const why =
      customParameterProblem(name, value) ??
      (passed.length >= MAX_CUSTOM_PARAMETERS ? `more than ${MAX_CUSTOM_PARAMETERS} parameters` : undefined);
    if (why) dropped.push({ name: name.slice(0, 64), why });
    else passed.push({ name, value: value as string });
  }
  return { passed, dropped };
}
