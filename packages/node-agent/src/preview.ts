// The live preview of a change, for callers outside the fleet (`wsring-sim plan --fleet`, scripts, dashboards).
export { previewChange, readMembers, type PreviewOptions } from './fleet-page/preview-client.js';
export { parseChange, describeChange, PreviewError, type AddedNode, type PreviewErrorCode, type ProposedChange } from './fleet-page/change.js';
export type { FleetPreview, PreviewFlow, PreviewNode } from './fleet-page/preview-report.js';
export type { PreviewAnswer, PreviewRequest } from './fleet-page/preview-answer.js';
export { FLEET_DEFAULTS, FLEET_PROTOCOL, previewSubject, statusSubject } from './fleet-page/subjects.js';
