// The landing page at /: links only. Its one script is the frame guard every page carries.
import { refuseFraming } from './frame-guard';

if (!refuseFraming()) document.body.dataset.ready = 'true';
