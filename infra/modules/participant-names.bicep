// The names a participant run outside the coordinator's app is known by, in one place: main.bicep checks names with
// them, the coordinator's and the participant's apps name their settings with them, and the grants name the queues and
// the secret. (docs/participants.md: "one key per participant", PARTICIPANT_{NAME}_SIGNING_KEY, PARTICIPANT_{NAME}_URL,
// PARTICIPANT_{NAME}_KINDS; DESIGN.md: the queues.)

@export()
@description('Whether a participant name makes valid queue names tx-participant-{name} and tx-participant-{name}-poison (3-63 characters; letters, digits and single inner hyphens) and a valid Key Vault secret name: 1-40 lower-case letters, digits and hyphens, neither first nor last, never two in a row.')
func isParticipantName(name string) bool =>
  length(name) >= 1 && length(name) <= 40 && !startsWith(name, '-') && !endsWith(name, '-') && !contains(name, '--') && empty(filter(
    range(0, length(name)),
    i => !contains('abcdefghijklmnopqrstuvwxyz0123456789-', substring(name, i, 1))
  ))

@export()
@description('The inbox queue of a participant.')
func participantInboxQueue(name string) string => 'tx-participant-${name}'

@export()
@description('The queue a participant\'s untrustworthy and failed messages are moved to.')
func participantPoisonQueue(name string) string => 'tx-participant-${name}-poison'

@export()
@description('A participant\'s app setting PARTICIPANT_{NAME}_{suffix}, NAME upper-cased with - as _ (the app\'s ParticipantSettings.Name): e.g. PARTICIPANT_LOYALTY_URL.')
func participantSetting(name string, suffix string) string =>
  'PARTICIPANT_${toUpper(replace(name, '-', '_'))}_${suffix}'

@export()
@description('The app setting that holds a participant\'s signing key, in the coordinator\'s app and in the participant\'s: PARTICIPANT_{NAME}_SIGNING_KEY.')
func participantSigningKeySetting(name string) string => participantSetting(name, 'SIGNING_KEY')

@export()
@description('The Key Vault secret that holds a participant\'s signing key.')
func participantSigningKeySecret(name string) string => 'participant-${name}-signing-key'

@export()
@description('A Key Vault reference app setting value: the platform resolves it with the site\'s keyVaultReferenceIdentity.')
func keyVaultReference(secretUri string) string => '@Microsoft.KeyVault(SecretUri=${secretUri})'
