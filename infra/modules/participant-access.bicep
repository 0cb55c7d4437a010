// What the coordinator grants one external participant, on the coordinator's own resources: its signing key as a Key
// Vault secret, readable by the participant's identity and the coordinator's alone (participant-key.bicep), and data
// roles on exactly the three queues it uses, each scoped to the queue, never to the account. The queues themselves
// are created by storage.bicep (main.bicep lists them): the participant's identity may not create queues.

import { participantInboxQueue, participantPoisonQueue } from 'participant-names.bicep'

@description('The participant\'s name (checked by main.bicep).')
param participantName string

@description('The coordinator\'s storage account, which holds the queues.')
param storageAccountName string

@description('The coordinator\'s Key Vault, which holds every signing key.')
param keyVaultName string

@description('The participant\'s signing key, at least 32 characters.')
@secure()
@minLength(32)
param signingKey string

@description('Principal id of the participant app\'s user-assigned identity.')
param participantPrincipalId string

@description('Principal id of the coordinator app\'s user-assigned identity, which verifies the participant\'s replies and signs its commands.')
param coordinatorPrincipalId string

// Each grant is the narrowest built-in queue role for one use, on the one queue it is for (infra/README.md,
// "External participants"). Microsoft's table of roles for Functions bindings names Reader + Message Processor for a
// queue trigger and Message Sender for a queue output.
var queueGrants = [
  {
    // The queue trigger peeks and reads its inbox (and its length, for scaling).
    queue: participantInboxQueue(participantName)
    role: 'Storage Queue Data Reader'
    id: '19e7f393-937e-4f77-808e-94535e297925'
  }
  {
    // The queue trigger receives, hides (updates visibility) and deletes the inbox's messages.
    queue: participantInboxQueue(participantName)
    role: 'Storage Queue Data Message Processor'
    id: '8a0f0c08-91a1-4084-bc3d-661d67233fed'
  }
  {
    // Votes, acknowledgements and in-doubt inquiries, signed with the participant's own key.
    queue: 'tx-coordinator'
    role: 'Storage Queue Data Message Sender'
    id: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  }
  {
    // The queue trigger (after maxDequeueCount failures) and the kit (an unsigned, forged or misaddressed command)
    // move messages there.
    queue: participantPoisonQueue(participantName)
    role: 'Storage Queue Data Message Sender'
    id: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  }
]

resource account 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2025-01-01' existing = {
  parent: account
  name: 'default'
}

resource grantedQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-01-01' existing = [
  for grant in queueGrants: {
    parent: queueService
    name: grant.queue
  }
]

resource queueRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (grant, i) in queueGrants: {
    name: guid(grantedQueues[i].id, participantPrincipalId, grant.id)
    scope: grantedQueues[i]
    properties: {
      description: '${grant.role} on ${grant.queue} for participant ${participantName}'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.id)
      principalId: participantPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

// The participant signs its replies and verifies its commands with the key; the coordinator does the converse.
module signingKeyAccess 'participant-key.bicep' = {
  name: 'participant-${participantName}.key'
  params: {
    participantName: participantName
    keyVaultName: keyVaultName
    signingKey: signingKey
    readerPrincipalIds: [
      participantPrincipalId
      coordinatorPrincipalId
    ]
  }
}

@description('Versionless URI of the signing key secret: both apps follow its latest version.')
output signingKeySecretUri string = signingKeyAccess.outputs.signingKeySecretUri
