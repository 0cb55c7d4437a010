// The coordinator with one external participant, shipping (another team's function app, infra/README.md, "External
// participants"). Deploy: az deployment group create -g "$RG" -p infra/shipping.bicepparam
// The keys come from environment variables: never write them into a committed file.
using 'main.bicep'

param namePrefix = readEnvironmentVariable('NAME_PREFIX', 'tx2pc')
param transactionsApiKey = readEnvironmentVariable('API_KEY')
param transactionsSigningKey = readEnvironmentVariable('SIGNING_KEY')

param externalParticipants = [
  {
    name: 'shipping'
    // PARTICIPANT_SHIPPING_KINDS in the coordinator's app, as in local.settings.sample.json.
    kinds: [
      '2pc'
    ]
  }
]
param externalParticipantSigningKeys = {
  shipping: readEnvironmentVariable('SHIPPING_SIGNING_KEY')
}
param shippingPostgresConnection = readEnvironmentVariable('SHIPPING_POSTGRES_CONNECTION', '')
