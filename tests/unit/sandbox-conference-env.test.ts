// SANDBOX_CONF_* run a suite under one reading of each `conferences` knob (testing/stack.ts); the
// sandbox checks the values as POST /knobs does.
import { conferenceKnobsFromEnv } from '../../testing/stack';
import { applyKnobs, defaultConferenceKnobs, type Knobs } from '../../sandbox/knobs';

describe('SANDBOX_CONF_* variables', () => {
  it('name no knob when unset', () => {
    expect(conferenceKnobsFromEnv({})).toBeUndefined();
  });

  it('map each variable to its knob', () => {
    expect(
      conferenceKnobsFromEnv({
        SANDBOX_CONF_EVENT_ORDER: 'reordered',
        SANDBOX_CONF_LEAVE_CALL_STATUS: 'absent',
        SANDBOX_CONF_SUBSCRIPTIONS: 'refused',
        SANDBOX_CONF_HOLD: 'udm-refused',
        SANDBOX_CONF_SEQUENCE: 'gaps',
        SANDBOX_CONF_ERROR_STATUS: 'by-code',
      }),
    ).toEqual({
      eventOrder: 'reordered',
      leaveCallStatus: 'absent',
      subscriptionsInConference: 'refused',
      hold: 'udm-refused',
      sequence: 'gaps',
      errorStatus: 'by-code',
    });
  });

  it('a bad value is refused by the sandbox and changes nothing', () => {
    const knobs = { conferences: defaultConferenceKnobs() } as Knobs;
    const conferences = conferenceKnobsFromEnv({ SANDBOX_CONF_HOLD: 'sometimes', SANDBOX_CONF_SEQUENCE: 'gaps' });
    expect(() => applyKnobs(knobs, { ...(conferences && { conferences }) })).toThrow(/conferences.hold/);
    expect(knobs.conferences).toEqual(defaultConferenceKnobs());
  });
});
