// The Key Vault that holds the protocol's signing keys and the payment service's API key. The app never gets them as
// plain app settings: its settings are Key Vault references the platform resolves with the app's user-assigned
// identity, which may read these secrets and nothing else (Key Vault Secrets User on each secret, RBAC authorization,
// no access policies). Participants' keys are added by participant-key.bicep.

@description('Key Vault name (globally unique, 3-24 characters).')
param name string

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('TRANSACTIONS_SIGNING_KEY: the current signing key.')
@secure()
param signingKey string

@description('TRANSACTIONS_SIGNING_KEYS_PREVIOUS: older keys still accepted during a rotation, comma-separated; empty for none.')
@secure()
param previousSigningKeys string

@description('Whether previousSigningKeys holds any key (not derived here, so that no output depends on a secure value).')
param hasPreviousSigningKeys bool

@description('PAYMENTS_API_KEY: the bearer key the app sends to the payment service; empty for none.')
@secure()
param paymentsApiKey string

@description('Whether to keep paymentsApiKey (main.bicep: when paymentsUrl is set; it checks the key then). Not derived here, so that no output depends on a secure value.')
param hasPaymentsApiKey bool

@description('Principal id of the identity that reads the secrets (the app\'s user-assigned identity).')
param readerPrincipalId string

// Key Vault Secrets User: read secret values, nothing else (not list keys, not manage the vault).
var secretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
  }
}

resource signingKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'transactions-signing-key'
  properties: {
    value: signingKey
    contentType: 'HMAC-SHA256 key of the protocol messages (TRANSACTIONS_SIGNING_KEY)'
  }
}

resource previousKeysSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasPreviousSigningKeys) {
  parent: vault
  name: 'transactions-signing-keys-previous'
  properties: {
    value: previousSigningKeys
    contentType: 'Previous signing keys still accepted, comma-separated (TRANSACTIONS_SIGNING_KEYS_PREVIOUS)'
  }
}

resource paymentsApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasPaymentsApiKey) {
  parent: vault
  name: 'payments-api-key'
  properties: {
    value: paymentsApiKey
    contentType: 'Bearer key of the payment service the payments saga participant calls (PAYMENTS_API_KEY)'
  }
}

resource signingKeyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(signingKeySecret.id, readerPrincipalId, secretsUserRoleId)
  scope: signingKeySecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource previousKeysReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasPreviousSigningKeys) {
  name: guid(vault.id, 'transactions-signing-keys-previous', readerPrincipalId, secretsUserRoleId)
  scope: previousKeysSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource paymentsApiKeyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasPaymentsApiKey) {
  name: guid(vault.id, 'payments-api-key', readerPrincipalId, secretsUserRoleId)
  scope: paymentsApiKeySecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

@description('Versionless URI of the signing key secret: the app follows its latest version.')
output signingKeySecretUri string = signingKeySecret.properties.secretUri

@description('Versionless URI of the previous keys secret, or empty when there are none.')
output previousSigningKeysSecretUri string = !hasPreviousSigningKeys
  ? ''
  : '${vault.properties.vaultUri}secrets/transactions-signing-keys-previous'

@description('Versionless URI of the payment service\'s API key secret, or empty when there is none.')
output paymentsApiKeySecretUri string = hasPaymentsApiKey ? paymentsApiKeySecret!.properties.secretUri : ''

@description('Name of the vault.')
output name string = vault.name
