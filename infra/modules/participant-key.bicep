// One participant's signing key (docs/participants.md, "One key per participant") as a secret in the coordinator's Key
// Vault, and who may read it: Key Vault Secrets User on that one secret, for each given identity and nobody else. An
// external participant's key is read by its app and the coordinator's (participant-access.bicep); an HTTP participant's
// by the coordinator's alone, since the service is not deployed here (main.bicep).

import { participantSigningKeySecret } from 'participant-names.bicep'

@description('The participant\'s name (checked by main.bicep).')
param participantName string

@description('The coordinator\'s Key Vault, which holds every signing key.')
param keyVaultName string

@description('The participant\'s signing key, at least 32 characters.')
@secure()
@minLength(32)
param signingKey string

@description('Principal ids of the identities that read the key (user-assigned identities of apps).')
param readerPrincipalIds string[]

// Key Vault Secrets User: read secret values, nothing else (not list keys, not manage the vault).
var secretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource signingKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: participantSigningKeySecret(participantName)
  properties: {
    value: signingKey
    contentType: 'HMAC-SHA256 key of participant ${participantName}\'s protocol messages (${participantName}\'s and the coordinator\'s setting PARTICIPANT_{NAME}_SIGNING_KEY)'
  }
}

resource signingKeyReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in readerPrincipalIds: {
    name: guid(signingKeySecret.id, principalId, secretsUserRoleId)
    scope: signingKeySecret
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

@description('Versionless URI of the signing key secret: the apps that read it follow its latest version.')
output signingKeySecretUri string = signingKeySecret.properties.secretUri
